/** A command line the tool cannot run: wrong or missing options. Printed with the usage text, exit status 2. */
export class CliUsageError extends Error {}
