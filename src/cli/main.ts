#!/usr/bin/env node
(await import('./program.js')).runBin(process.argv.slice(2));
