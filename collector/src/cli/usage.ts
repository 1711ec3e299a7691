/** A wrong argument or value given on the command line: exit 2 with the message. */
export class UsageError extends Error {}
