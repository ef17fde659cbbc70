import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { encrypt as shaCrypt } from 'unixcrypt';
import { hashFormat, loadDesCrypt, safeEqual, verifyPassword } from '../../../src/forward/password-hash.js';

const aprMd5 = createRequire(import.meta.url)('apache-md5') as (password: string, salt?: string) => string;

// Fixed known-good lines. Apache httpd 2.4 manual, "Password Formats" (misc/password_encryptions):
// `htpasswd -nbB|-nbm|-nbs|-nbd myName myPassword`, and `openssl passwd -apr1 myPassword`.
// SHA-crypt: Ulrich Drepper's specification test vectors (as used by glibc and php-src).
const KNOWN: [string, string, string][] = [
  ['bcrypt', 'myPassword', '$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC'],
  ['apr1', 'myPassword', '$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/'],
  ['apr1', 'myPassword', '$apr1$qHDFfhPC$nITSVHgYbDAK1Y0acGRnY0'],
  ['sha1', 'myPassword', '{SHA}VBPuJHI7uixaa6LQGWx4s+5GKNE='],
  ['sha256-crypt', 'Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  ['sha512-crypt', 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  ['sha512-crypt', 'Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
];
const APACHE_DES = 'rqXexS6ZhobKA'; // htpasswd -nbd myName myPassword

describe('forward/password-hash', () => {
  for (const [format, password, hash] of KNOWN) {
    it(`verifies a known-good ${format} hash and refuses a wrong password`, async () => {
      expect(hashFormat(hash)).to.equal(format);
      expect(await verifyPassword(password, hash)).to.deep.equal({ ok: true });
      expect(await verifyPassword(`${password}x`, hash)).to.deep.equal({ ok: false });
      expect(await verifyPassword('', hash)).to.deep.equal({ ok: false });
    });
  }

  it('verifies hashes generated now with the same libraries (incl. $2a$/$2b$, $1$, UTF-8)', async () => {
    const pw = 'pä55:wörd 🔑';
    const b = bcrypt.hashSync(pw, 4);
    const generated = [
      b, b.replace(/^\$2b\$/, '$2a$'), b.replace(/^\$2b\$/, '$2y$'),
      // apache-md5 takes a "binary" string: the UTF-8 bytes, as htpasswd hashes them.
      aprMd5(Buffer.from(pw).toString('latin1')), aprMd5(Buffer.from(pw).toString('latin1'), '$1$abcdefgh$'),
      `{SHA}${createHash('sha1').update(pw).digest('base64')}`,
      shaCrypt(pw, '$5$somesalt'), shaCrypt(pw, '$6$rounds=5000$othersalt'),
    ];
    for (const hash of generated) {
      expect(await verifyPassword(pw, hash), hash).to.deep.equal({ ok: true });
      expect(await verifyPassword('wrong', hash), hash).to.deep.equal({ ok: false });
    }
  });

  it('DES crypt(3): refused with a reason unless an implementation exists', async () => {
    expect(hashFormat(APACHE_DES)).to.equal('des-crypt');
    const des = await loadDesCrypt();
    const r = await verifyPassword('myPassword', APACHE_DES);
    if (des) expect(r).to.deep.equal({ ok: true });
    else expect(r.ok === false && r.unsupported).to.match(/DES.*apache-crypt/);
    expect((await verifyPassword('myPassword', APACHE_DES, { desCrypt: null })).unsupported).to.match(/DES/);
    // An injected implementation is used as is (this stub stands in for crypt(3)).
    const stub = (password: string, hash: string) => (password.slice(0, 8) === 'myPasswo' && hash.startsWith('rq') ? APACHE_DES : 'rqNOPE');
    expect(await verifyPassword('myPassword', APACHE_DES, { desCrypt: stub })).to.deep.equal({ ok: true });
    expect(await verifyPassword('other', APACHE_DES, { desCrypt: stub })).to.deep.equal({ ok: false });
  });

  it('refuses plain text, unknown and malformed hashes without throwing', async () => {
    expect((await verifyPassword('secret', 'secret')).unsupported).to.match(/unknown/);
    expect(hashFormat('$2y$05$short')).to.equal('unknown');
    expect((await verifyPassword('x', '$6$saltonly')).ok).to.equal(false);
    expect((await verifyPassword('x', '$apr1$')).ok).to.equal(false);
  });

  it('compares in constant time regardless of length', () => {
    expect(safeEqual('abc', 'abc')).to.equal(true);
    expect(safeEqual('abc', 'abcd')).to.equal(false);
  });
});
