/** Types of bin/cli-build.js (plain JavaScript: it runs before anything can compile TypeScript). */
export declare const DIST_DIR: string;
export declare function freshEntry(root: string): string | null;
export declare function buildCli(root: string): Promise<string>;
export declare function loadCompiled(entry: string, command?: string): { main: (argv?: string[]) => Promise<void> };
