import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.js';

describe('config files shipped in config/', () => {
  const files = ['config/default.yaml', ...readdirSync('config/examples').map((f) => join('config/examples', f))];
  for (const file of files) {
    it(`${file} passes the schema`, () => {
      expect(() => loadConfig(file, { env: {} })).to.not.throw();
    });
  }
});
