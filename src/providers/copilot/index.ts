export { CopilotProvider, COPILOT_PATH_SETTING, classifyCopilotTurn, type CopilotProviderOptions } from './provider';
export { resolveCopilotExecutable } from './executable';
