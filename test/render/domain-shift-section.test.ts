import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { domainShiftSection, shiftVerdict } from '../../src/render/domain-shift-section.js';

describe("the report's domain shift section", () => {
  for (const { name, before, after, verdict } of [
    { name: 'closer to 0.5 after adaptation', before: 0.95, after: 0.7, verdict: /^adaptation reduced the shift/ },
    { name: 'within chance variation', before: 0.8, after: 0.78, verdict: /^the shift is unchanged/ },
    { name: 'no shift either side', before: 0.5, after: 0.5, verdict: /^the shift is unchanged/ },
    { name: 'further from 0.5 after the run', before: 0.6, after: 0.9, verdict: /^the shift grew/ },
  ])
    it(`${name}: ${before} → ${after}`, () => assert.match(shiftVerdict(before, after), verdict));

  it('says what the number means and escapes what it shows', () => {
    const html = domainShiftSection({
      before: { auroc: 0.97 },
      after: { auroc: 0.61 },
      train: 500,
      target: 120,
      features: '<b>block_2_add pooled',
    });
    assert.match(html, /<h2>Domain shift<\/h2>/);
    assert.match(html, /id="shift-before">0\.970</);
    assert.match(html, /id="shift-after">0\.610</);
    assert.match(html, /0\.5 when the base sees the two alike/);
    assert.match(html, /&lt;b&gt;block_2_add pooled/);
    assert.match(html, /adaptation reduced the shift/);
  });

  it('a run without adapt: has none', () => assert.equal(domainShiftSection(undefined), ''));
});
