import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/cli/main.ts'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url is used to locate the native addon; shim it in the CommonJS build.
  shims: true,
  external: ['@livekit/rtc-node', '@livekit/rtc-ffi-bindings'],
});
