import { userInfo } from 'node:os';

/** Who asks, when not told: $GODWIT_REQUESTED_BY, the CI's user ($GITHUB_ACTOR, $GITLAB_USER_LOGIN), then the OS user. */
export function defaultRequester(env: NodeJS.ProcessEnv = process.env): string {
  return env.GODWIT_REQUESTED_BY ?? env.GITHUB_ACTOR ?? env.GITLAB_USER_LOGIN ?? env.USER ?? userInfo().username;
}
