/**
 * Codex's review mode (DESIGN §9): the review text of an `exitedReviewMode` item — Codex's JSON as the reviewer wrote
 * it, or Codex's rendering of the JSON it parsed — as the snapshot's findings, and the transcript lines of the two
 * review-mode items. What is neither is left to the core (one `info` finding).
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { enteredReviewText, exitedReviewText, parseCodexReview } from '../../../../src/providers/codex/review';

const ROOT = '/home/dev/repo.worktrees/t1';
const FOLDERS = { cwd: ROOT, root: ROOT };

/** A finding as Codex's rubric asks for it. */
function codexFinding(title: string, priority: number | null | undefined, file?: string, start = 3, end = 4) {
  return {
    title,
    body: `Body of ${title}`,
    confidence_score: 0.6,
    ...(priority !== undefined ? { priority } : {}),
    ...(file ? { code_location: { absolute_file_path: file, line_range: { start, end } } } : {}),
  };
}

describe('parseCodexReview: Codex JSON', () => {
  test('priorities P0/P1 are high, P2 medium, P3 low; the title tag goes; paths become relative to the worktree; line = start', () => {
    const text = JSON.stringify({
      findings: [
        codexFinding('[P0] Crash on empty input', 0, `${ROOT}/src/a.ts`, 10, 12),
        codexFinding('[P1] Wrong default', 1, `${ROOT}/src/b.ts`),
        codexFinding('[P2] Slow loop', 2, `${ROOT}/c.ts`),
        codexFinding('[P3] Typo in a message', 3, `${ROOT}/d.md`, 1, 1),
      ],
      overall_correctness: 'patch is incorrect',
      overall_explanation: ' Two bugs. ',
      overall_confidence_score: 0.8,
    });
    assert.deepEqual(parseCodexReview(text, FOLDERS), {
      explanation: 'Two bugs.',
      findings: [
        { id: 'f1', path: 'src/a.ts', line: 10, severity: 'high', title: 'Crash on empty input', body: 'Body of [P0] Crash on empty input' },
        { id: 'f2', path: 'src/b.ts', line: 3, severity: 'high', title: 'Wrong default', body: 'Body of [P1] Wrong default' },
        { id: 'f3', path: 'c.ts', line: 3, severity: 'medium', title: 'Slow loop', body: 'Body of [P2] Slow loop' },
        { id: 'f4', path: 'd.md', line: 1, severity: 'low', title: 'Typo in a message', body: 'Body of [P3] Typo in a message' },
      ],
    });
  });

  test('without a priority number the title tag decides; with neither the finding is info; a file outside the worktree keeps its path', () => {
    const text = JSON.stringify({
      findings: [codexFinding('[P2] Tagged only', null, `${ROOT}/x.ts`), codexFinding('Untagged', undefined, '/elsewhere/y.ts'), codexFinding('No place', 1)],
      overall_explanation: '',
    });
    assert.deepEqual(parseCodexReview(text, FOLDERS)?.findings, [
      { id: 'f1', path: 'x.ts', line: 3, severity: 'medium', title: 'Tagged only', body: 'Body of [P2] Tagged only' },
      { id: 'f2', path: '/elsewhere/y.ts', line: 3, severity: 'info', title: 'Untagged', body: 'Body of Untagged' },
      { id: 'f3', severity: 'high', title: 'No place', body: 'Body of No place' },
    ]);
  });

  test('prose and a fence around the object are tolerated; a relative path is read from the review folder', () => {
    const text = `Here is my review.\n\`\`\`json\n${JSON.stringify({ findings: [codexFinding('[P1] Off by one', 1, 'lib/e.ts', 7, 7)] }, null, 2)}\n\`\`\`\nThanks.`;
    assert.deepEqual(parseCodexReview(text, { cwd: `${ROOT}/pkg`, root: ROOT })?.findings, [
      { id: 'f1', path: 'pkg/lib/e.ts', line: 7, severity: 'high', title: 'Off by one', body: 'Body of [P1] Off by one' },
    ]);
  });

  test('an empty findings list is a review that found nothing; entries without title and body are skipped', () => {
    assert.deepEqual(parseCodexReview('{"findings": [], "overall_correctness": "patch is correct", "overall_explanation": "Looks right."}', FOLDERS), { findings: [], explanation: 'Looks right.' });
    assert.deepEqual(parseCodexReview('{"findings": [{"title": " ", "body": ""}, 7, null]}', FOLDERS), { findings: [] });
  });

  test('the findings shape of the diff-in-prompt reviewers is read too', () => {
    assert.deepEqual(parseCodexReview('{"findings": [{"path": "a.ts", "line": 2, "severity": "low", "title": "Nit", "body": "b"}]}', FOLDERS)?.findings, [
      { id: 'f1', path: 'a.ts', line: 2, severity: 'low', title: 'Nit', body: 'b' },
    ]);
  });
});

describe("parseCodexReview: Codex's rendering", () => {
  test('the explanation, then one item per finding with its location and its body indented below', () => {
    const text = [
      'The change breaks empty input.',
      '',
      'Full review comments:',
      '',
      `- [P1] Crash on empty input — ${ROOT}/src/a.ts:10-12`,
      '  `parse("")` throws.',
      '  ',
      '  Guard the empty case.',
      '',
      `- [P3] Title with — a dash — ${ROOT}/docs/my notes.md:4-4`,
      '  Rephrase it.',
    ].join('\n');
    assert.deepEqual(parseCodexReview(text, FOLDERS), {
      explanation: 'The change breaks empty input.',
      findings: [
        { id: 'f1', path: 'src/a.ts', line: 10, severity: 'high', title: 'Crash on empty input', body: '`parse("")` throws.\n\nGuard the empty case.' },
        { id: 'f2', path: 'docs/my notes.md', line: 4, severity: 'low', title: 'Title with — a dash', body: 'Rephrase it.' },
      ],
    });
  });

  test('one finding ("Review comment:"), a checkbox, the "--" separator, no explanation, no priority tag', () => {
    assert.deepEqual(parseCodexReview(`Review comment:\n\n- [x] Missing await -- ${ROOT}/a.ts:5-6\n  The promise is dropped.`, FOLDERS), {
      findings: [{ id: 'f1', path: 'a.ts', line: 5, severity: 'info', title: 'Missing await', body: 'The promise is dropped.' }],
    });
  });

  test('an item without a location keeps its title', () => {
    assert.deepEqual(parseCodexReview('Summary.\n\nReview comment:\n\n- [P2] Consider a test\n  Nothing covers it.', FOLDERS)?.findings, [
      { id: 'f1', severity: 'medium', title: 'Consider a test', body: 'Nothing covers it.' },
    ]);
  });
});

describe('parseCodexReview: what is not a review', () => {
  for (const [name, text] of [
    ['prose', 'Looks fine to me overall, though I would name things differently. {not json: true}'],
    ['an explanation alone (Codex could not tell it from a review without findings)', 'The patch is correct.'],
    ["Codex's fallback", 'Reviewer failed to output a response.'],
    ['a header without items', 'Text.\n\nFull review comments:\n\nnothing here'],
    ['JSON without a findings list', '{"overall_explanation": "x"}'],
    ['nothing', ''],
  ] as const) {
    test(name, () => assert.equal(parseCodexReview(text, FOLDERS), undefined));
  }
});

describe('review mode in the transcript', () => {
  test('entering names what is reviewed, with a short commit', () => {
    assert.equal(enteredReviewText("changes against '0123456789abcdef0123456789abcdef01234567'"), "Codex entered review mode: changes against '0123456'");
    assert.equal(enteredReviewText('current changes'), 'Codex entered review mode: current changes');
  });

  test('leaving says how many findings and why, or that the answer was not a review', () => {
    const one = `Needs work.\n\nReview comment:\n\n- [P1] Bug — ${ROOT}/a.ts:1-1\n  Fix it.`;
    assert.equal(exitedReviewText(one), 'Codex left review mode: 1 finding — Needs work.');
    assert.equal(exitedReviewText('{"findings": []}'), 'Codex left review mode: no findings');
    assert.equal(exitedReviewText('Not a review.'), 'Codex left review mode; its answer is not in the review format');
  });
});
