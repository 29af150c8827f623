/** The porcelain parsers on git's own output: literal samples (odd paths included) and live output of real git. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseMergeTree, parseNumstat, parseRawNumstat, parseStatusV2, parseWorktreeList } from '../../../src/git/parse';
import { makeRepo } from '../../support/git-repo';

test('worktree list --porcelain -z: main, a branch, detached, locked and prunable entries', () => {
  const text = [
    'worktree /src/repo', 'HEAD 1111111111111111111111111111111111111111', 'branch refs/heads/main', '',
    'worktree /src/repo.worktrees/task one', 'HEAD 2222222222222222222222222222222222222222', 'branch refs/heads/agent-tasks/task-one', 'locked initializing', '',
    'worktree /src/detached', 'HEAD 3333333333333333333333333333333333333333', 'detached', 'prunable gitdir file points to non-existent location', '',
  ].join('\0');
  assert.deepEqual(parseWorktreeList(text), [
    { path: '/src/repo', head: '1111111111111111111111111111111111111111', branch: 'refs/heads/main', detached: false, bare: false, locked: false },
    { path: '/src/repo.worktrees/task one', head: '2222222222222222222222222222222222222222', branch: 'refs/heads/agent-tasks/task-one', detached: false, bare: false, locked: true },
    { path: '/src/detached', head: '3333333333333333333333333333333333333333', detached: true, bare: false, locked: false, prunable: 'gitdir file points to non-existent location' },
  ]);
  assert.deepEqual(parseWorktreeList('worktree /bare\0bare\0\0'), [{ path: '/bare', detached: false, bare: true, locked: false }]);
});

test('diff --numstat -z: plain, binary (-), rename (empty path then old and new), tabs and newlines in names', () => {
  const text = '3\t1\tsrc/a.ts\0-\t-\timage.png\0' + '0\t0\t\0old name.txt\0new\tname.txt\0' + '1\t0\tline\nbreak.txt\0';
  assert.deepEqual(parseNumstat(text), [
    { path: 'src/a.ts', insertions: 3, deletions: 1, binary: false },
    { path: 'image.png', insertions: undefined, deletions: undefined, binary: true },
    { path: 'new\tname.txt', oldPath: 'old name.txt', insertions: 0, deletions: 0, binary: false },
    { path: 'line\nbreak.txt', insertions: 1, deletions: 0, binary: false },
  ]);
});

test('diff --raw --numstat -z: statuses and similarity scores', () => {
  const raw = ':100644 100644 aaaaaaa bbbbbbb M\0m.txt\0:000000 100644 0000000 ccccccc A\0a.txt\0:100644 000000 ddddddd 0000000 D\0d.txt\0:100644 100644 eeeeeee eeeeeee R100\0old.txt\0new.txt\0';
  const numstat = '1\t1\tm.txt\0' + '2\t0\ta.txt\0' + '0\t5\td.txt\0' + '0\t0\t\0old.txt\0new.txt\0';
  const parsed = parseRawNumstat(raw + numstat);
  assert.deepEqual(parsed.raw, [
    { status: 'M', path: 'm.txt' },
    { status: 'A', path: 'a.txt' },
    { status: 'D', path: 'd.txt' },
    { status: 'R', oldPath: 'old.txt', path: 'new.txt', score: 100 },
  ]);
  assert.equal(parsed.numstat.length, 4);
  assert.deepEqual(parsed.numstat[3], { oldPath: 'old.txt', path: 'new.txt', insertions: 0, deletions: 0, binary: false });
});

test('status --porcelain=v2 -z: changed, renamed (orig path follows), unmerged, untracked, ignored; headers skipped', () => {
  const text = [
    '# branch.oid 1111111111111111111111111111111111111111',
    '# branch.head main',
    '1 .M N... 100644 100644 100644 aaaaaaa aaaaaaa src/with space.ts',
    '1 A. N... 000000 100644 100644 0000000 bbbbbbb staged.txt',
    '2 R. N... 100644 100644 100644 ccccccc ccccccc R100 renamed.txt',
    'original.txt',
    'u UU N... 100644 100644 100644 100644 ddddddd eeeeeee fffffff both.txt',
    '? untracked dir/file.txt',
    '! ignored.log',
    '',
  ].join('\0');
  assert.deepEqual(parseStatusV2(text), [
    { kind: 'changed', path: 'src/with space.ts', index: '.', workTree: 'M' },
    { kind: 'changed', path: 'staged.txt', index: 'A', workTree: '.' },
    { kind: 'renamed', path: 'renamed.txt', origPath: 'original.txt', index: 'R', workTree: '.' },
    { kind: 'unmerged', path: 'both.txt', index: 'U', workTree: 'U' },
    { kind: 'untracked', path: 'untracked dir/file.txt', index: '?', workTree: '?' },
    { kind: 'ignored', path: 'ignored.log', index: '!', workTree: '!' },
  ]);
});

test('merge-tree --write-tree --name-only --no-messages -z: clean and conflicted', () => {
  assert.deepEqual(parseMergeTree('4390587c3340b757fe565389d947bdb3dee5b396\0', 0), { tree: '4390587c3340b757fe565389d947bdb3dee5b396', clean: true, conflicts: [] });
  assert.deepEqual(parseMergeTree('a43a6b1fde399b64983d258aa8e091df564ff426\0f\0dir/g\0f\0', 1), { tree: 'a43a6b1fde399b64983d258aa8e091df564ff426', clean: false, conflicts: ['f', 'dir/g'] });
});

const repo = makeRepo({ 'keep.txt': 'keep\n', 'edit.txt': 'one\n', 'move me.txt': 'moving\ncontent\nthat is long enough\n' });
after(() => repo.remove());

test('the parsers on live output of this machine’s git', () => {
  repo.write('edit.txt', 'one\ntwo\n');
  repo.git(['mv', 'move me.txt', 'moved.txt']);
  repo.write('untracked.txt', 'new\n');
  const status = parseStatusV2(repo.git(['status', '--porcelain=v2', '-z', '--untracked-files=all']));
  assert.deepEqual(
    status.map((entry) => [entry.kind, entry.path, entry.origPath ?? '']),
    [['changed', 'edit.txt', ''], ['renamed', 'moved.txt', 'move me.txt'], ['untracked', 'untracked.txt', '']],
  );
  const diff = parseRawNumstat(repo.git(['diff', '--raw', '--numstat', '-z', '-M', 'HEAD']));
  assert.deepEqual(diff.raw.map((entry) => [entry.status, entry.path, entry.oldPath ?? '']), [['M', 'edit.txt', ''], ['R', 'moved.txt', 'move me.txt']]);
  assert.deepEqual(diff.numstat.map((entry) => [entry.path, entry.insertions, entry.deletions]), [['edit.txt', 1, 0], ['moved.txt', 0, 0]]);
  const worktrees = parseWorktreeList(repo.git(['worktree', 'list', '--porcelain', '-z']));
  assert.deepEqual(worktrees.map((entry) => [entry.path, entry.branch]), [[repo.root, 'refs/heads/main']]);
});
