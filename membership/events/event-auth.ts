// User events signed with the node's identity (issue 13), as alives are: the origin signs
// with its Ed25519 key and attaches its certificate; a receiver checks the certificate
// against the CA (and revocations), that its name is the event's origin, and the signature.
// The certificate travels whole every time: events are rare and bounded, and a datagram
// holds a 512-byte event, its ~330-byte certificate and the signature.
import { verifySignature, type Identity } from '../identity.js';
import type { EventAuth } from './user-events.js';

const DOMAIN = 'user-event';

export function identityEventAuth(identity: () => Identity): EventAuth {
  return {
    sign: (bytes) => ({ sig: identity().sign(DOMAIN, bytes), cert: identity().cert.der }),
    verify(origin, bytes, sig, cert, now) {
      const c = identity().verifier.check(cert, now);
      if (typeof c === 'string') return c;
      if (c.name !== origin) return `the certificate is ${c.name}'s, not ${origin}'s`;
      return verifySignature(c.publicKey, DOMAIN, bytes, sig) ? undefined : 'bad signature';
    },
  };
}
