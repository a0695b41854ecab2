import { defineConfig, type Options } from 'tsup';

const shared: Options = {
  sourcemap: true,
  target: 'node20',
  external: ['@livekit/rtc-node', '@livekit/rtc-ffi-bindings'],
};

export default defineConfig([
  {
    ...shared,
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    // import.meta.url locates the native addon; shim it in the CommonJS build.
    shims: true,
  },
  {
    // The command-line tool is ESM only (it uses top-level await).
    ...shared,
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
  },
]);
