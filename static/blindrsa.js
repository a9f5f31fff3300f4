// RSA blind signatures, client side: RFC 9474, variant RSABSSA-SHA384-PSS-Randomized.
//
// The browser prepares and blinds a message, the server signs the blinded value without
// seeing the message, and the browser unblinds the answer into an ordinary RSASSA-PSS
// signature (SHA-384, MGF1 with SHA-384, 48-byte salt) that it checks with WebCrypto before
// returning it. Every failure throws an Error. The same algorithm, in Python, is
// survey/domain/blindrsa.py. No dependencies, no build step, no eval: it runs under
// `script-src 'self'`.

const HASH = "SHA-384";
const HASH_BYTES = 48;
const SALT_BYTES = 48;
const PREFIX_BYTES = 32;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Encode bytes as base64url without padding. */
export function b64urlEncode(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decode base64url (padding optional) into bytes; throw on any other character. */
export function b64urlDecode(text) {
  const bare = text.replace(/=+$/, "");
  if (!B64URL.test(bare) || bare.length % 4 === 1) throw new Error("not base64url");
  const binary = atob(bare.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/** Import the server's public key from its JWK fields {n, e} (base64url, big-endian). */
export async function importPublicKey({ n, e }) {
  const nInt = bytesToInt(b64urlDecode(n));
  const eInt = bytesToInt(b64urlDecode(e));
  if (nInt % 2n === 0n || eInt < 3n || eInt % 2n === 0n) throw new Error("invalid public key");
  const jwk = { kty: "RSA", n, e, alg: "PS384", ext: true, key_ops: ["verify"] };
  const cryptoKey = await crypto.subtle.importKey(
    "jwk", jwk, { name: "RSA-PSS", hash: HASH }, false, ["verify"],
  );
  return { n: nInt, e: eInt, modulusBytes: byteLength(nInt), cryptoKey };
}

/** Return prefix || msg, with 32 fresh random bytes as the prefix unless one is given. */
export function prepare(msg, prefix) {
  const head = prefix ?? crypto.getRandomValues(new Uint8Array(PREFIX_BYTES));
  if (head.length !== PREFIX_BYTES) throw new Error(`the prefix must be ${PREFIX_BYTES} bytes`);
  return concat(head, msg);
}

/**
 * Encode and blind the prepared message for pk; return {blindedMsg, inv} as modulus-length
 * bytes. options.salt (Uint8Array) and options.r (BigInt) are for test vectors only.
 */
export async function blind(pk, msgPrime, options = {}) {
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  if (salt.length !== SALT_BYTES) throw new Error(`the salt must be ${SALT_BYTES} bytes`);
  const encoded = await emsaPssEncode(msgPrime, bitLength(pk.n) - 1, salt);
  const m = bytesToInt(encoded);
  if (gcd(m, pk.n) !== 1n) throw new Error("invalid input: the message is not coprime with n");
  const r = options.r ?? randomBelow(pk.n);
  if (r <= 0n || r >= pk.n || gcd(r, pk.n) !== 1n) {
    throw new Error("blinding error: r is not invertible modulo n");
  }
  const inv = modInverse(r, pk.n);
  const z = (m * modPow(r, pk.e, pk.n)) % pk.n;
  return { blindedMsg: intToBytes(z, pk.modulusBytes), inv: intToBytes(inv, pk.modulusBytes) };
}

/** Unblind the server's answer and return the signature once WebCrypto verifies it. */
export async function finalize(pk, msgPrime, blindSig, inv) {
  if (blindSig.length !== pk.modulusBytes || inv.length !== pk.modulusBytes) {
    throw new Error(`unexpected input size: expected ${pk.modulusBytes} bytes`);
  }
  const z = bytesToInt(blindSig);
  const invInt = bytesToInt(inv);
  if (z <= 0n || z >= pk.n || invInt <= 0n || invInt >= pk.n) {
    throw new Error("value out of range");
  }
  const sig = intToBytes((z * invInt) % pk.n, pk.modulusBytes);
  const valid = await crypto.subtle.verify(
    { name: "RSA-PSS", saltLength: SALT_BYTES }, pk.cryptoKey, sig, msgPrime,
  );
  if (!valid) throw new Error("invalid signature");
  return sig;
}

// --- EMSA-PSS (RFC 8017, 9.1.1) with SHA-384 and MGF1-SHA-384 ---------------------------------

/** Return SHA-384 of the concatenated parts. */
async function sha384(...parts) {
  return new Uint8Array(await crypto.subtle.digest(HASH, concat(...parts)));
}

/** Return EMSA-PSS-ENCODE(msg, emBits) with the given salt. */
async function emsaPssEncode(msg, emBits, salt) {
  const emLen = Math.ceil(emBits / 8);
  if (emLen < HASH_BYTES + salt.length + 2) throw new Error("encoding error: modulus too short");
  const mHash = await sha384(msg);
  const h = await sha384(new Uint8Array(8), mHash, salt);
  const db = concat(new Uint8Array(emLen - salt.length - HASH_BYTES - 2), [1], salt);
  const mask = await mgf1(h, db.length);
  const maskedDb = db.map((byte, i) => byte ^ mask[i]);
  maskedDb[0] &= 0xff >> (8 * emLen - emBits);
  return concat(maskedDb, h, [0xbc]);
}

/** Return length bytes of MGF1-SHA-384 over seed. */
async function mgf1(seed, length) {
  const blocks = [];
  for (let counter = 0; blocks.length * HASH_BYTES < length; counter++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    blocks.push(await sha384(seed, c));
  }
  return concat(...blocks).slice(0, length);
}

// --- bytes and big integers ---------------------------------------------------------------------

/** Concatenate byte arrays (or plain arrays of bytes) into one Uint8Array. */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Read big-endian bytes as a BigInt. */
function bytesToInt(bytes) {
  let hex = "0x0";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return BigInt(hex);
}

/** Write a BigInt as exactly length big-endian bytes. */
function intToBytes(value, length) {
  const hex = value.toString(16).padStart(2 * length, "0");
  if (hex.length > 2 * length) throw new Error("integer too large");
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Return the number of bits of a non-negative BigInt. */
function bitLength(value) {
  return value === 0n ? 0 : value.toString(2).length;
}

/** Return the number of bytes of a non-negative BigInt. */
function byteLength(value) {
  return Math.ceil(bitLength(value) / 8);
}

/** Return a uniform integer in [1, n), by rejection sampling. */
function randomBelow(n) {
  const length = byteLength(n);
  const excess = 8 * length - bitLength(n);
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    bytes[0] &= 0xff >> excess;
    const candidate = bytesToInt(bytes);
    if (candidate > 0n && candidate < n) return candidate;
  }
}

/** Return base^exponent mod modulus by square-and-multiply (public or one-time values only). */
function modPow(base, exponent, modulus) {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** Return the greatest common divisor of two BigInts. */
function gcd(a, b) {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Return a^-1 mod modulus by the extended Euclidean algorithm. */
function modInverse(a, modulus) {
  let [oldR, r] = [a % modulus, modulus];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) throw new Error("blinding error: r is not invertible modulo n");
  return ((oldS % modulus) + modulus) % modulus;
}
