// A wrong combination of arguments found after parsing: printed as `rexmon: <message>`, exit code 2
// (the code commander's own errors are mapped to as well).
export class UsageError extends Error {}

export const USAGE_EXIT = 2;
