/** Turns raw results into the suite's verdicts (its lib/display.mjs determineTestResult) and totals by kind. */
import type { Result, TestDef } from './suite-types.js';

export type Verdict = 'pass' | 'fail' | 'optional_fail' | 'yes' | 'no' | 'setup_fail' | 'dependency_fail' | 'retry' | 'untested';

export function verdict(tests: Map<string, TestDef>, results: Map<string, Result>, id: string): Verdict {
  const test = tests.get(id);
  const result = results.get(id);
  if (!test || result === undefined) return 'untested';
  for (const dep of test.depends_on ?? []) {
    const v = verdict(tests, results, dep);
    if (v !== 'pass' && v !== 'yes' && v !== 'untested') return 'dependency_fail'; // untested: filtered out by --only
  }
  if (result !== true && result[0] === 'Setup') return result[1] === 'retry' ? 'retry' : 'setup_fail';
  const kind = test.kind ?? 'required';
  if (kind === 'check') return result === true ? 'yes' : 'no';
  if (result === true) return 'pass';
  return kind === 'optimal' ? 'optional_fail' : 'fail';
}

export interface Totals { required: [number, number]; optimal: [number, number]; check: [number, number] }

export function totals(tests: Map<string, TestDef>, results: Map<string, Result>): Totals {
  const t: Totals = { required: [0, 0], optimal: [0, 0], check: [0, 0] };
  for (const [id, test] of tests) {
    const bucket = t[test.kind ?? 'required'];
    bucket[1]++;
    const v = verdict(tests, results, id);
    if (v === 'pass' || v === 'yes') bucket[0]++;
  }
  return t;
}
