// Times RSA-2048 PKCS#1 v1.5 SHA-256 signatures (RS256) with Node's crypto, the reference
// provider's signer, for the given seconds; prints {"us": <µs a signature>, "count": n}.
// Usage: node rs256.mjs [seconds]
import crypto from 'node:crypto';

const seconds = Number(process.argv[2] || 2);
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const data = Buffer.alloc(600, 'x');
crypto.sign('sha256', data, privateKey);
let count = 0;
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
let now = start;
while (now < end) {
  for (let i = 0; i < 20; i++) crypto.sign('sha256', data, privateKey);
  count += 20;
  now = process.hrtime.bigint();
}
console.log(JSON.stringify({ us: Number(now - start) / 1e3 / count, count }));
