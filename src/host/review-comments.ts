// DESIGN §9: a review's findings as comments on the reviewed task's files — the right side of its Review Changes
// diff (the worktree's file, or the branch's when the folder is gone) — through VS Code's Comments API. Read-only:
// no commenting ranges, no replies. The threads follow the tasks: a new finding adds one, a merged, discarded or
// removed task takes its threads away.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isLive } from '../core/task-isolation';
import type { TaskManager } from '../core/task-manager';
import type { Finding, TaskState } from '../core/task-state';
import { asText, SEVERITY_ICON } from './opinion-presentation';
import type { TaskReview } from './review';

/** A thread as the test hook reports it. */
export interface FindingThreadView {
  reviewId: string;
  findingId: string;
  uri: string;
  /** 1-based, as the finding said (1 when it named none). */
  line: number;
  label: string;
  comments: { author: string; body: string }[];
}

interface ShownThread {
  signature: string;
  thread: vscode.CommentThread;
  view: FindingThreadView;
}

export class ReviewComments implements vscode.Disposable {
  private readonly controller = vscode.comments.createCommentController('agentTasks.findings', 'Agent Tasks Review Findings');
  private readonly threads = new Map<string, ShownThread>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly manager: TaskManager,
    private readonly review: TaskReview,
    private readonly agentName: (provider: string) => string,
  ) {
    this.controller.options = { prompt: 'Findings of a review are read-only', placeHolder: 'Send Findings to Task continues the task with them' };
    const later = (): void => this.scheduleSync();
    this.subscriptions.push(
      toVscode(manager.onDidUpdateTask(later)),
      toVscode(manager.onDidRemoveTask(later)),
    );
    this.sync();
  }

  private scheduleSync(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.sync();
    }, 50);
  }

  /** Makes the threads match the findings of every review whose reviewed task still has live changes. */
  sync(): void {
    const wanted = new Map<string, { review: TaskState; reviewed: TaskState; finding: Finding; uri: vscode.Uri }>();
    for (const review of this.manager.allTasks()) {
      if (review.reviewOf === undefined || !review.findings?.length) continue;
      const reviewed = this.manager.peek(review.reviewOf);
      if (!reviewed || !isLive(reviewed.worktree)) continue;
      for (const finding of review.findings) {
        const file = insideWorktree(finding.path);
        const uri = file && this.review.modifiedUri(reviewed, file);
        if (uri) wanted.set(`${review.id}/${finding.id}`, { review, reviewed, finding, uri });
      }
    }
    for (const [key, shown] of this.threads) {
      if (!wanted.has(key)) {
        shown.thread.dispose();
        this.threads.delete(key);
      }
    }
    for (const [key, { review, finding, uri }] of wanted) {
      const signature = JSON.stringify([uri.toString(), finding, review.provider]);
      const existing = this.threads.get(key);
      if (existing?.signature === signature) continue;
      existing?.thread.dispose();
      this.threads.set(key, { signature, ...this.createThread(review, finding, uri) });
    }
  }

  private createThread(review: TaskState, finding: Finding, uri: vscode.Uri): Omit<ShownThread, 'signature'> {
    const line = Math.max(1, finding.line ?? 1);
    const reviewer = this.agentName(review.provider);
    const label = `Review by ${reviewer} (${review.id})`;
    const body = new vscode.MarkdownString(undefined, true);
    body.isTrusted = false;
    body.supportHtml = false;
    // The finding is the reviewer's text: escaped, never read as Markdown (appendText would keep it from wrapping).
    body.appendMarkdown(`$(${SEVERITY_ICON[finding.severity].icon}) **${asText(`${finding.severity}: ${finding.title}`)}**\n\n${asText(finding.body)}`);
    const author = `${reviewer} · ${finding.severity}`;
    const comment: vscode.Comment = { body, mode: vscode.CommentMode.Preview, author: { name: author }, contextValue: 'finding' };
    const thread = this.controller.createCommentThread(uri, new vscode.Range(line - 1, 0, line - 1, 0), [comment]);
    thread.label = label;
    thread.canReply = false;
    thread.contextValue = 'finding';
    thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    const view: FindingThreadView = { reviewId: review.id, findingId: finding.id, uri: uri.toString(), line, label, comments: [{ author, body: body.value }] };
    return { thread, view };
  }

  /** Opens the file a finding points at, at its line: the reviewed task's version while its changes are live, else the main checkout's. */
  async openFinding(reviewId: string, findingId: string): Promise<void> {
    const review = this.manager.peek(reviewId);
    const finding = review?.findings?.find((candidate) => candidate.id === findingId);
    if (!review || review.reviewOf === undefined || !finding) throw new Error(`Task ${reviewId} has no finding ${findingId}`);
    const file = insideWorktree(finding.path);
    if (!file) throw new Error(`The finding “${finding.title}” names no file in the worktree${finding.path ? ` (it says ${finding.path})` : ''}`);
    const reviewed = this.manager.peek(review.reviewOf);
    const repository = reviewed?.worktree?.repository;
    const uri = (reviewed && this.review.modifiedUri(reviewed, file)) ?? (repository ? vscode.Uri.file(path.join(repository, file)) : undefined);
    if (!uri) throw new Error(`Task ${review.reviewOf} has no worktree to open ${file} in`);
    const line = Math.max(0, (finding.line ?? 1) - 1);
    await vscode.window.showTextDocument(uri, { selection: new vscode.Range(line, 0, line, 0), preview: true });
  }

  /** The threads now shown for the findings about a task's change (for tests). */
  threadsOf(reviewedId: string): FindingThreadView[] {
    this.sync();
    return [...this.threads.values()].map((shown) => shown.view).filter((view) => this.manager.peek(view.reviewId)?.reviewOf === reviewedId);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const subscription of this.subscriptions) subscription.dispose();
    for (const shown of this.threads.values()) shown.thread.dispose();
    this.threads.clear();
    this.controller.dispose();
  }
}

/** A finding's path as a path inside the worktree, or undefined when it leaves it (the reviewer's text is untrusted). */
function insideWorktree(file: string | undefined): string | undefined {
  if (!file) return undefined;
  const normal = path.posix.normalize(file.replace(/\\/g, '/')).replace(/^\.\//, '');
  if (normal.startsWith('../') || normal === '..' || path.posix.isAbsolute(normal)) return undefined;
  return normal;
}

function toVscode(disposable: { dispose(): void }): vscode.Disposable {
  return new vscode.Disposable(() => disposable.dispose());
}
