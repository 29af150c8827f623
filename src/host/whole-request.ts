// L2: a one-line surface (a tree row, a toast) shows a request shortened. Approving from there first shows the whole
// command when the line could not, so nobody approves what they did not see.
import * as vscode from 'vscode';
import { summarizeQuestion } from '../core/answers';
import type { PendingQuestion } from '../core/task-state';
import { shownWhole } from './presentation';

/**
 * Before an approval from a one-line surface: when that line cut the command, a modal shows all of it (and where it
 * runs) and approves only on "Approve". Resolves true when the approval may go ahead.
 */
export async function confirmWholeRequest(taskName: string, question: PendingQuestion): Promise<boolean> {
  if (shownWhole(question)) return true;
  const detail = question.type === 'command_approval'
    ? `${question.command}${question.cwd ? `\n\nin ${question.cwd}` : ''}${question.reason ? `\n\n${question.reason}` : ''}`
    : summarizeQuestion(question);
  const choice = await vscode.window.showWarningMessage(`${taskName} asks to run this command. Approve it?`, { modal: true, detail }, 'Approve');
  return choice === 'Approve';
}
