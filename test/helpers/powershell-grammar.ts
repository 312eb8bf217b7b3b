import { readFileSync } from 'node:fs';
import { Language, Parser, type Node } from 'web-tree-sitter';

/**
 * Reads PowerShell with a real grammar (tree-sitter-powershell's wasm build run by web-tree-sitter),
 * because no PowerShell runs on the test machines and regexes miss line continuations, pipelines and
 * nested blocks.
 */

export interface CommandCall {
  /** The command as written, e.g. `Get-ADSyncRule`. */
  readonly name: string;
  /** Named parameters as written, without the dash or a trailing colon, e.g. `Identifier`. */
  readonly parameters: readonly string[];
  /** Bare-word values given to a named parameter, e.g. `StartupType` -> `Disabled`. */
  readonly literalValues: ReadonlyMap<string, string>;
  /** 1-based line of the call in the script. */
  readonly line: number;
  /** Character offset of the call in the script. */
  readonly start: number;
}

export interface ParsedScript {
  /** ERROR and MISSING nodes, as `line:column type text` so a failure says where. */
  readonly syntaxErrors: readonly string[];
  /** Every command invoked by name, in source order. */
  readonly calls: readonly CommandCall[];
  /** Functions the script defines, with the parameters each declares. */
  readonly functions: ReadonlyMap<string, readonly string[]>;
}

let parser: Promise<Parser> | undefined;

async function load(): Promise<Parser> {
  await Parser.init();
  // Bytes, not a path: given a path, web-tree-sitter loads fs with a dynamic import, which Jest's CommonJS runtime refuses.
  const language = await Language.load(
    readFileSync(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm')),
  );
  const p = new Parser();
  p.setLanguage(language);
  return p;
}

function present(nodes: readonly (Node | null)[]): Node[] {
  return nodes.filter((n): n is Node => n !== null);
}

function where(n: Node): string {
  return `${n.startPosition.row + 1}:${n.startPosition.column + 1}`;
}

function syntaxErrors(root: Node): string[] {
  const found: string[] = [];
  const walk = (n: Node): void => {
    if (n.isError || n.isMissing)
      found.push(`${where(n)} ${n.isMissing ? 'MISSING' : 'ERROR'} ${n.type} ${JSON.stringify(n.text.slice(0, 60))}`);
    for (const c of present(n.children)) walk(c);
  };
  walk(root);
  return found;
}

function parameterName(text: string): string {
  return text.replace(/^-/, '').replace(/:$/, '');
}

function literalValues(elements: readonly Node[]): Map<string, string> {
  const values = new Map<string, string>();
  const args = elements.filter((e) => e.type !== 'command_argument_sep');
  args.forEach((e, i) => {
    const next = args[i + 1];
    if (e.type === 'command_parameter' && next?.type === 'generic_token') values.set(parameterName(e.text), next.text);
  });
  return values;
}

export async function parsePowerShell(text: string): Promise<ParsedScript> {
  parser ??= load();
  const tree = (await parser).parse(text);
  if (!tree) throw new Error('tree-sitter returned no tree; the PowerShell grammar did not load.');
  try {
    const root = tree.rootNode;
    const calls: CommandCall[] = [];
    for (const command of present(root.descendantsOfType('command'))) {
      const name = command.childForFieldName('command_name');
      // `& { ... }` and `& $x` invoke an expression, not a named command; their contents are walked anyway.
      if (!name || name.type !== 'command_name') continue;
      const elements = present(command.childForFieldName('command_elements')?.namedChildren ?? []);
      calls.push({
        name: name.text,
        parameters: elements.filter((e) => e.type === 'command_parameter').map((e) => parameterName(e.text)),
        literalValues: literalValues(elements),
        line: command.startPosition.row + 1,
        start: command.startIndex,
      });
    }
    const functions = new Map<string, string[]>();
    for (const fn of present(root.descendantsOfType('function_statement'))) {
      const fnName = present(fn.namedChildren).find((c) => c.type === 'function_name');
      if (!fnName) continue;
      // The scripts declare function parameters as `function Name([string]$a)`; a param() block inside
      // the body would not be listed, so a call naming one fails the check rather than passing unseen.
      const declaration = present(fn.namedChildren).find((c) => c.type === 'function_parameter_declaration');
      const params = present(declaration?.descendantsOfType('script_parameter') ?? [])
        .map((p) => present(p.descendantsOfType('variable'))[0]?.text.replace(/^\$/, ''))
        .filter((p): p is string => p !== undefined);
      functions.set(fnName.text, params);
    }
    return { syntaxErrors: syntaxErrors(root), calls, functions };
  } finally {
    tree.delete();
  }
}
