// parseTables: what `nft -j list tables` says, as the driver's probe hands it to the datapath's first check.
import t from 'tap';
import { parseTables } from './nft.js';

t.test('the tables listed, as "family name"', async (t) => {
  const meta = { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } };
  t.same(parseTables(JSON.stringify({ nftables: [meta] })), new Set(), 'none');
  const listed = {
    nftables: [
      meta,
      { table: { family: 'inet', name: 'weft', handle: 3 } },
      { table: { family: 'ip', name: 'weft', handle: 4 } },
      { table: { family: 'inet', name: 'other', handle: 5 } },
    ],
  };
  t.same(parseTables(JSON.stringify(listed)), new Set(['inet weft', 'ip weft', 'inet other']));
});

t.test('output of another shape is unknown (the check then reads every table), never an empty list', async (t) => {
  for (const out of [
    '',
    'table inet weft',
    '{}',
    '{"nftables": {}}',
    '{"nftables": [{"table": {"family": "inet"}}]}',
    '{"nftables": [{"table": {"family": 1, "name": "weft"}}]}',
    '[]',
    'null',
  ])
    t.equal(parseTables(out), undefined, JSON.stringify(out));
  t.same(parseTables('{"nftables": [null, {"table": {"family": "inet", "name": "weft"}}]}'), new Set(['inet weft']));
});
