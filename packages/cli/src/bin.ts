#!/usr/bin/env node
/**
 * `tracebuf` command line.
 *
 * @packageDocumentation
 */
import { runDemo } from './demo.js';

const USAGE = 'usage: tracebuf demo [--events N]';

function main(argv: readonly string[]): number {
  const [command, ...rest] = argv;
  if (command === 'demo') {
    let events: number | undefined;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--events') events = Number(rest[++i]);
      else {
        console.error(`unknown argument: ${rest[i]}\n${USAGE}`);
        return 2;
      }
    }
    if (events !== undefined && (!Number.isInteger(events) || events < 0)) {
      console.error(`--events must be a non-negative integer: events=${rest.join(' ')}\n${USAGE}`);
      return 2;
    }
    const result = runDemo(events === undefined ? {} : { events });
    return result.read + result.lost === result.written ? 0 : 1;
  }
  console.error(USAGE);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
