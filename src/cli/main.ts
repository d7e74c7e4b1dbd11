#!/usr/bin/env node
// Signal handlers first, before the program and the library load (a second or more on a busy machine):
// a signal during start-up is then an orderly exit (130, "nothing was written") rather than a kill.
// A reader that goes away (`| head`) closes that stream for tlpipe, not the run (EPIPE is otherwise fatal).
import { handleSignals, outliveClosedOutput, processPrinter } from './output.js';
handleSignals(processPrinter);
outliveClosedOutput();
(await import('./program.js')).runBin(process.argv.slice(2));
