// Lint: type-checked rules for all TypeScript, plus the architecture rule that the domain core
// imports nothing outside itself (no node:* modules, no adapters, no packages).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/out/**', 'bin/**', 'bench/**/*.js', 'ui/dist/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    ignores: ['src/domain/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'crypto', 'http', 'net', 'child_process'], message: 'The domain core is pure: no I/O modules.' },
          { group: ['../adapters/*', '../app/*', '../cli/*', '../ports/*', '**/adapters/**', '**/app/**', '**/cli/**'], message: 'The domain core imports nothing outside src/domain.' },
          { group: ['[a-z@]*', '!./*', '!../*'], message: 'The domain core uses no packages.' },
        ],
      }],
      'no-restricted-globals': ['error', 'Date', 'process', 'console', 'setTimeout', 'setInterval', 'fetch'],
      'no-restricted-syntax': ['error',
        { selector: "CallExpression[callee.name='parseFloat']", message: 'Money never passes through a JS number.' },
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'The domain is deterministic.' },
      ],
    },
  },
  {
    // The dashboard: plain browser JavaScript, no types to check; money stays text (ui/app.js).
    files: ['ui/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'location', 'localStorage', 'fetch', 'WebSocket', 'URL', 'URLSearchParams',
        'requestAnimationFrame', 'performance', 'ResizeObserver', 'setTimeout', 'setInterval', 'console'].map((g) => [g, 'readonly'])),
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      'no-restricted-syntax': ['error',
        { selector: "CallExpression[callee.name='parseFloat']", message: 'Money is formatted as text, never through a JS number.' },
      ],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
