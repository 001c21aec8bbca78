import { Worker } from 'node:worker_threads';
for (const code of ["require('worker_threads').parentPort.postMessage(1)", "import('@tracebuf/core').then(() => require('worker_threads').parentPort.postMessage(1))", "import('@tracebuf/log').then(() => require('worker_threads').parentPort.postMessage(1))"]) {
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const w = new Worker(code, { eval: true });
    await new Promise((r) => w.once('message', r));
    console.log(code.slice(0, 40).padEnd(42), (performance.now() - t).toFixed(1), 'ms');
    await w.terminate();
  }
}
