import { TraceBuffer } from '@tracebuf/core';
import { createLogger } from '@tracebuf/log';
const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 1024, overwrite: true, clock: 'local' });
const log = createLogger(tb).child({ component: 'bench' });
const N = 6_000_000;
for (let i = 0; i < N; i++) log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
