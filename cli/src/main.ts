#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { runCli } from './cli.ts';

// The exit code is set, not forced, so stdout is flushed before the process ends (pipes).
process.exitCode = await runCli(process.argv.slice(2), process.env, {
  out: (l) => void process.stdout.write(`${l}\n`),
  err: (l) => void process.stderr.write(`${l}\n`),
  outBytes: (b) => void process.stdout.write(b),
  readFile: (p) => readFileSync(p),
  readStdin: () => readFileSync(0),
  writeFile: (p, d) => writeFileSync(p, d),
});
