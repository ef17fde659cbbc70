// chai 6 ships no type declarations and @types/chai is not installed: import it untyped here once
// @ts-ignore TS7016
import * as chai from 'chai';

export const expect: (value: unknown, message?: string) => any = (chai as any).expect;
