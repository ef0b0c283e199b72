// The part of istanbul-lib-instrument's API that the fuzz build uses (its own package ships no types).
declare module 'istanbul-lib-instrument' {
  export interface InstrumenterOptions {
    coverageVariable?: string;
    esModules?: boolean;
    compact?: boolean;
    produceSourceMap?: boolean;
  }
  export interface Instrumenter {
    instrumentSync(code: string, filename: string, inputSourceMap?: object): string;
    lastSourceMap(): object | null;
  }
  export function createInstrumenter(options?: InstrumenterOptions): Instrumenter;
}
