import type * as vscode from 'vscode';
import { Container } from './container';
import type { AgentTasksApi } from './host/api';

let container: Container | undefined;

export function activate(context: vscode.ExtensionContext): AgentTasksApi {
  container = new Container(context);
  context.subscriptions.push(container);
  return container.api;
}

export function deactivate(): void {
  container?.dispose();
  container = undefined;
}
