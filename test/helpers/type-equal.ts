// Type-level pins of public APIs: `Equal<A, B>` is true only when A and B are the same type, not
// merely assignable both ways (it compares how each resolves a conditional type on an unknown T).
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T is the probe the comparison needs; once per side by design
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to type-check unless T is `true`. */
export type Expect<T extends true> = T;
