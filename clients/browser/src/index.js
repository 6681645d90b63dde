// @tessera/browser: Tessera for single-page apps. See README.md and index.d.ts.

export { Tessera } from './tessera.js';
export { TesseraError } from './error.js';
