/**
 * A trial program for the sweep layer's unit tests: it speaks the trial
 * child's protocol (trial-messages.ts) over the real IPC channel, without
 * planning or training. The job's `text` says how it ends:
 * fail | crash | internal | stop (waits for the parent's stop) | run.
 */
import type { ChildMessage, ParentMessage } from '../../src/sweep/trial-messages.js';

const send = (message: ChildMessage): void => void process.send!(message);
const end = (): void => process.disconnect();

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stop') {
    send({ type: 'result', status: 'interrupted', diagnostics: [], reason: message.reason });
    end();
    return;
  }
  const how = message.job.text;
  if (how === 'fail') {
    send({ type: 'result', status: 'failed', diagnostics: [`${message.job.file}: error: planned another plan`] });
    end();
  } else if (how === 'crash') {
    process.stderr.write('first line\nthe last words\n');
    process.exit(3);
  } else if (how === 'internal') {
    send({ type: 'result', status: 'crashed', diagnostics: [], reason: 'internal error: oops' });
    end();
  } else if (how === 'run') {
    send({
      type: 'event',
      event: {
        type: 'run-start',
        pipeline: 'p',
        id: '0001-0123abcd',
        dir: '/nowhere',
        fingerprint: message.job.plan.fingerprint,
        backend: 'cpu',
        resumed: false,
      } as never,
    });
    send({
      type: 'result',
      status: 'failed',
      run: 'p/0001-0123abcd',
      diagnostics: [],
      reason: 'stopped after its start',
    });
    end();
  }
  // stop: nothing until the parent's stop.
});
