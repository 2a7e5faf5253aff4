// Placeholder until src/devserver lands: the Temporal dev server is started here.
export default async function setup(): Promise<void> {}
