/**
 * Fast non-cryptographic 32-bit hashing for balancers: FNV-1a over the string's UTF-16 units,
 * finished with murmur3's fmix32 so that nearby inputs ("10.0.0.1", "10.0.0.2") land far apart.
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** murmur3 finalizer: a bijection on 32-bit integers with full avalanche. Returns an unsigned value. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
