import { performance } from 'node:perf_hooks';
const t0 = performance.now();
const { PGlite } = await import('@electric-sql/pglite');
const t1 = performance.now();
const pg = await PGlite.create(process.argv[2]!);
const t2 = performance.now();
await pg.query('select 1');
console.log('import', (t1-t0).toFixed(0), 'create', (t2-t1).toFixed(0));
await pg.close();
