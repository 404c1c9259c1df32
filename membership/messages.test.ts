import t from 'tap';
import { MAX_META_BYTES } from './messages.js';
t.test('meta limit is 512 bytes', async (t) => {
  t.equal(MAX_META_BYTES, 512);
});
