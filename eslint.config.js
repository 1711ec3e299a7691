// One lint setup for the collector (the Grafana plugin keeps create-plugin's own).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'grafana-plugin/**', 'node_modules/**', 'bench/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['collector/src/**/*.ts'],
    rules: {
      // Control characters in regexes are deliberate: they are what label values must not contain.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
