// The command of a container script check: an argv, never a shell string.
import t from 'tap';
import { parseExecCommand } from './exec-command.js';
import { FrameReader } from './exec-probe.js';

t.test('space-split words, or a JSON list; a shell only when named', async (t) => {
  t.same(parseExecCommand('/bin/check --quick  -v'), ['/bin/check', '--quick', '-v']);
  t.same(parseExecCommand('["/bin/check", "two words"]'), ['/bin/check', 'two words']);
  t.same(parseExecCommand('["sh", "-c", "a || exit 2"]'), ['sh', '-c', 'a || exit 2']);
  for (const bad of ['a;b', 'a && b', 'a $HOME', 'a "b"', 'a\\b', 'a*', 'a ~', 'a # c'])
    t.match(parseExecCommand(bad), /is for a shell/, bad);
  t.match(parseExecCommand('a\tb'), /control characters/);
  t.match(parseExecCommand('x'.repeat(513)), /at most 512/);
  t.same(parseExecCommand('x'.repeat(512)), ['x'.repeat(512)]);
  t.match(parseExecCommand('{"cmd": "x"}'), /is for a shell/, 'an object is not the JSON form');
  t.match(parseExecCommand('[""]'), /a command to run/);
});

t.test("Docker's multiplexed stream: frames split anywhere, kept up to the bound", async (t) => {
  const frame = (stream: number, text: string) => {
    const body = Buffer.from(text);
    const h = Buffer.alloc(8);
    h[0] = stream;
    h.writeUInt32BE(body.length, 4);
    return Buffer.concat([h, body]);
  };
  const all = Buffer.concat([frame(1, 'disk '), frame(2, ''), frame(2, '91%'), frame(1, '\n')]);
  for (let cut = 0; cut <= all.length; cut++) {
    const r = new FrameReader();
    r.push(all.subarray(0, cut));
    r.push(all.subarray(cut));
    t.equal(r.text(), 'disk 91%', `cut at ${cut}`);
  }
  const bounded = new FrameReader(10);
  for (let i = 0; i < 1000; i++) bounded.push(frame(1, 'abcdefgh'));
  t.equal(bounded.text(), 'abcdefghab', 'at most the bound is kept, however much comes');
});
