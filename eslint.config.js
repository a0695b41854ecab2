import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', '.scratch/', '.rig/', 'demo-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The command's plain-JavaScript entry point runs in Node.
  { files: ['bin/**/*.js'], languageOptions: { globals: { process: 'readonly' } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
