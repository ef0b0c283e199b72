export { u8, u16, u32, u64, bool, enumerated, fixed, bytes, sized, optionalSized, wrap, list, struct, union, empty, bits, encode, decode, decodeFrom } from './engine.ts';
export type { Schema, SchemaBase, AnySchema, Infer, SchemaNode, Sized, BitField, BitsValue, StructValue } from './engine.ts';
