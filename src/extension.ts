import type * as vscode from 'vscode';
import { Container } from './container';
import type { AgentTasksApi } from './host/api';

let container: Container | undefined;

export function activate(context: vscode.ExtensionContext): AgentTasksApi {
  const started = performance.now();
  container = new Container(context);
  container.activationMs = performance.now() - started;
  return container.api;
}

export async function deactivate(): Promise<void> {
  const current = container;
  container = undefined;
  await current?.disposeAsync();
}
