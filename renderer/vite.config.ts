// Renderer build: root renderer/, output dist/renderer, relative base so the same files load from
// file:// in Electron and from the browser-mode server. No inline scripts (strict CSP).
// (import.meta.dirname instead of node:path/node:url: renderer/ may not import node: modules.)
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const here = import.meta.dirname;

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte({ compilerOptions: { runes: true } })],
  build: {
    outDir: `${here}/../dist/renderer`,
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: { fs: { allow: [`${here}/..`] } },
});
