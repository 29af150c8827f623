// The one HTML shell of our webviews: a strict CSP with a fresh nonce (no inline script or style without it, nothing
// from outside the extension), the codicons and the shared panel stylesheet, and the view's own bundle.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export interface WebviewPage {
  /** Already escaped. */
  title: string;
  /** Stylesheets under the extension folder besides codicons and media/panel.css, as path parts. */
  styles?: string[][];
  /** The body's markup (already escaped); the script tag follows it. */
  body: string;
  /** The view's bundle under the extension folder, as path parts. */
  script: string[];
}

/**
 * The options every panel of ours is created with: scripts on, nothing but dist/ and media/ loadable, and not kept
 * alive when hidden (a panel rebuilds itself from the host on 'ready').
 */
export function panelOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')] };
}

/** What a panel of ours does with its page: its messages, being hidden (the page is dropped) and being closed. */
export interface PanelHandlers {
  receive(raw: unknown): void;
  hidden(): void;
  disposed(): void;
}

/** Fills a panel made (or restored) with panelOptions: the tab's icon, the page, and the handlers. */
export function showPanel(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, html: string, handlers: PanelHandlers): void {
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'agent-tasks.svg');
  panel.webview.html = html;
  panel.webview.onDidReceiveMessage((raw: unknown) => handlers.receive(raw));
  panel.onDidChangeViewState(() => {
    if (!panel.visible) handlers.hidden();
  });
  panel.onDidDispose(() => handlers.disposed());
}

/** The page for `webview`, its assets resolved against `extensionUri`. */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const nonce = randomBytes(18).toString('base64url');
  const asset = (parts: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const styles = [['dist', 'codicons', 'codicon.css'], ['media', 'panel.css'], ...(page.styles ?? [])];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${styles.map((parts) => `<link rel="stylesheet" nonce="${nonce}" href="${asset(parts)}">`).join('\n')}
<title>${page.title}</title>
</head>
<body>
${page.body}
<script nonce="${nonce}" src="${asset(page.script)}"></script>
</body>
</html>`;
}

/** Text made safe for HTML markup and attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
