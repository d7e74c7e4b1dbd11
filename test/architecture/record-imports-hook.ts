/**
 * Preloaded with `--import` (through NODE_OPTIONS) into a CLI process under
 * test: registers record-imports-loader.ts, which appends every module the
 * process imports to the file named by TLPIPE_RECORD_IMPORTS.
 */
import { register } from 'node:module';

register('./record-imports-loader.js', import.meta.url);
