import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { GodwitError } from '../errors';

/** The custom search attributes Godwit writes on every migration workflow, by name and Temporal type. */
export const SEARCH_ATTRIBUTES = {
  GodwitTarget: 'Keyword',
  GodwitMigrationId: 'Keyword',
  GodwitState: 'Keyword',
} as const;

export type GodwitSearchAttribute = keyof typeof SEARCH_ATTRIBUTES;

const SEARCH_ATTRIBUTE_NAMES = Object.keys(SEARCH_ATTRIBUTES) as GodwitSearchAttribute[];

// Temporal's IndexedValueType numbers, for naming a wrong type in an error.
const TYPE_NAMES: Record<number, string> = {
  1: 'Text',
  2: 'Keyword',
  3: 'Int',
  4: 'Double',
  5: 'Bool',
  6: 'Datetime',
  7: 'KeywordList',
};

const KEYWORD = encodeSearchAttributeIndexedValueType('KEYWORD') as NonNullable<
  ReturnType<typeof encodeSearchAttributeIndexedValueType>
>;

const GRPC_ALREADY_EXISTS = 6;

/** The `temporal` command that registers one Godwit search attribute by hand. */
export function createSearchAttributeCommand(namespace: string, name: GodwitSearchAttribute): string {
  return `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${SEARCH_ATTRIBUTES[name]}`;
}

/** Thrown when Godwit's search attributes are missing and this client may not (or could not) add them. */
export class SearchAttributesMissingError extends GodwitError {
  override readonly name = 'SearchAttributesMissingError';
  constructor(
    readonly namespace: string,
    readonly missing: readonly GodwitSearchAttribute[],
    cause: unknown,
  ) {
    super(
      [
        `Namespace "${namespace}" lacks the search attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, ` +
          `and Godwit could not add ${missing.length > 1 ? 'them' : 'it'}: ${(cause as Error)?.message ?? String(cause)}`,
        'Register them once with an account that may (Temporal Cloud: the namespace settings page, or `tcld namespace search-attributes add`):',
        ...missing.map((name) => `  ${createSearchAttributeCommand(namespace, name)}`),
      ].join('\n'),
      { cause },
    );
  }
}

/** Thrown when a search attribute Godwit needs exists with another type, which Temporal cannot change in place. */
export class SearchAttributeTypeMismatchError extends GodwitError {
  override readonly name = 'SearchAttributeTypeMismatchError';
  constructor(
    readonly namespace: string,
    readonly attribute: GodwitSearchAttribute,
    readonly actualType: string,
  ) {
    super(
      `Search attribute ${attribute} in namespace "${namespace}" has type ${actualType}, but Godwit needs ${SEARCH_ATTRIBUTES[attribute]}. ` +
        `Remove it with \`temporal operator search-attribute remove --namespace ${namespace} --name ${attribute}\`, ` +
        `then \`${createSearchAttributeCommand(namespace, attribute)}\`.`,
    );
  }
}

async function listCustom(connection: Connection, namespace: string): Promise<Record<string, number>> {
  const res = await connection.operatorService.listSearchAttributes({ namespace });
  return (res.customAttributes ?? {}) as Record<string, number>;
}

function missingFrom(custom: Record<string, number>, namespace: string): GodwitSearchAttribute[] {
  const missing: GodwitSearchAttribute[] = [];
  for (const name of SEARCH_ATTRIBUTE_NAMES) {
    const type = custom[name];
    if (type === undefined) missing.push(name);
    else if (type !== KEYWORD) throw new SearchAttributeTypeMismatchError(namespace, name, TYPE_NAMES[type] ?? `#${type}`);
  }
  return missing;
}

/**
 * Makes sure GodwitTarget, GodwitMigrationId and GodwitState exist as Keyword in `namespace`,
 * adding the missing ones. Safe to call on every worker start.
 * @returns the names it added (empty when all were there).
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<{ added: GodwitSearchAttribute[] }> {
  const missing = missingFrom(await listCustom(connection, namespace), namespace);
  if (missing.length === 0) return { added: [] };
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  } catch (err) {
    // A concurrent worker may have won the race; what counts is that they exist now.
    if (!(isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS)) {
      throw new SearchAttributesMissingError(namespace, missing, err);
    }
    const stillMissing = missingFrom(await listCustom(connection, namespace), namespace);
    if (stillMissing.length > 0) throw new SearchAttributesMissingError(namespace, stillMissing, err);
  }
  return { added: missing };
}
