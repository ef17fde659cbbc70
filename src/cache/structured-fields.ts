/**
 * A strict RFC 8941 Dictionary parser, enough for targeted cache-control fields (RFC 9213 §2.1:
 * they are Dictionary Structured Fields and a parse error makes the whole field ignored).
 */

export type BareItem = number | string | boolean | { token: string } | { bytes: string } | { decimal: number };
export type SfItem = BareItem | { inner: BareItem[] };

class SfError extends Error {}

const isLcAlpha = (c: string) => c >= 'a' && c <= 'z';
const isDigit = (c: string) => c >= '0' && c <= '9';
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;

class Parser {
  i = 0;
  constructor(readonly s: string) {}
  peek(): string { return this.s[this.i] ?? ''; }
  skipSp(): void { while (this.s[this.i] === ' ') this.i++; }
  skipOws(): void { while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++; }

  key(): string {
    const c = this.peek();
    if (!isLcAlpha(c) && c !== '*') throw new SfError('key');
    const start = this.i++;
    for (let ch = this.peek(); ch !== '' && (isLcAlpha(ch) || isDigit(ch) || '_-.*'.includes(ch)); ch = this.peek()) this.i++;
    return this.s.slice(start, this.i);
  }

  bare(): BareItem {
    const c = this.peek();
    if (c === '-' || isDigit(c)) return this.number();
    if (c === '"') return this.string();
    if (c === '*' || /[A-Za-z]/.test(c)) return this.token();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    throw new SfError('item');
  }

  number(): number | { decimal: number } {
    const start = this.i;
    if (this.peek() === '-') this.i++;
    let digits = 0, dot = -1;
    for (;;) {
      const c = this.peek();
      if (isDigit(c)) { digits++; this.i++; }
      else if (c === '.' && dot < 0) { if (digits > 12) throw new SfError('decimal'); dot = digits; this.i++; }
      else break;
      if (digits > 15) throw new SfError('number');
    }
    const text = this.s.slice(start, this.i);
    if (digits === 0 || text.endsWith('.')) throw new SfError('number');
    if (dot < 0) return Number(text);
    if (digits - dot > 3) throw new SfError('decimal');
    return { decimal: Number(text) };
  }

  string(): string {
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) throw new SfError('string');
      if (c === '\\') {
        const n = this.s[this.i++];
        if (n !== '"' && n !== '\\') throw new SfError('escape');
        out += n;
      } else if (c === '"') return out;
      else if (c < ' ' || c > '~') throw new SfError('string char');
      else out += c;
    }
  }

  token(): { token: string } {
    const start = this.i++;
    while (this.i < this.s.length && TCHAR.test(this.peek())) this.i++;
    return { token: this.s.slice(start, this.i) };
  }

  bytes(): { bytes: string } {
    const end = this.s.indexOf(':', this.i + 1);
    if (end < 0) throw new SfError('bytes');
    const b = this.s.slice(this.i + 1, end);
    if (!/^[A-Za-z0-9+/=]*$/.test(b)) throw new SfError('bytes');
    this.i = end + 1;
    return { bytes: b };
  }

  boolean(): boolean {
    const v = this.s[this.i + 1];
    if (v !== '0' && v !== '1') throw new SfError('boolean');
    this.i += 2;
    return v === '1';
  }

  params(): void {
    // Parameters on cache directives are ignored (RFC 9213 §2.1) but must still parse.
    while (this.peek() === ';') {
      this.i++;
      this.skipSp();
      this.key();
      if (this.peek() === '=') { this.i++; this.bare(); }
    }
  }

  itemOrInner(): SfItem {
    if (this.peek() === '(') {
      this.i++;
      const inner: BareItem[] = [];
      for (;;) {
        this.skipSp();
        if (this.peek() === ')') { this.i++; this.params(); return { inner }; }
        inner.push(this.bare());
        this.params();
        const c = this.peek();
        if (c !== ' ' && c !== ')') throw new SfError('inner list');
      }
    }
    const v = this.bare();
    this.params();
    return v;
  }
}

/** Parses a Dictionary; undefined on any syntax error or an empty value. Later duplicate keys win (RFC 8941 §3.2). */
export function parseSfDictionary(value: string): Map<string, SfItem> | undefined {
  const p = new Parser(value);
  const out = new Map<string, SfItem>();
  try {
    p.skipSp();
    if (p.i >= value.length) return undefined;
    for (;;) {
      const key = p.key();
      let item: SfItem = true;
      if (p.peek() === '=') { p.i++; item = p.itemOrInner(); } else p.params();
      out.set(key, item);
      p.skipOws();
      if (p.i >= value.length) return out;
      if (p.peek() !== ',') throw new SfError('comma');
      p.i++;
      p.skipOws();
      if (p.i >= value.length) throw new SfError('trailing comma');
    }
  } catch (e) {
    if (e instanceof SfError) return undefined;
    throw e;
  }
}
