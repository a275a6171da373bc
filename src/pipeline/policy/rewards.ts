// Reward functions over bag RMs for PPO and best-of-N: scoring (prompt, response) pairs either from token ids
// (PPO: the policy's output ids mapped to the RM's ids, no re-tokenisation) or from text (any Policy).
import { scoreItems } from '../rm/bag.ts';
import { encodeItems, UNK_ID, type PreTrainedTokenizer } from '../rm/tokenizer.ts';
import type { BagRMParams, EncodedItems } from '../rm/types.ts';
import type { PpoPrompt, RewardFn } from './ppo.ts';
import { encodeText, EOS_OUT, UNK_OUT, type PolicyVocab } from './vocab.ts';

/** Output id -> RM token id ([EOS] -> -1, [UNK] -> the RM's [UNK]). */
export function outToRm(vocab: PolicyVocab, rmVocab: readonly string[]): Int32Array {
  const rmId = new Map<string, number>();
  rmVocab.forEach((w, i) => {
    if (!rmId.has(w)) rmId.set(w, i);
  });
  return Int32Array.from(vocab.outWords, (w, o) => (o === EOS_OUT ? -1 : o === UNK_OUT ? UNK_ID : (rmId.get(w) ?? UNK_ID)));
}

/** PPO prompts from texts: the policy's input ids (truncated) and the RM's own ids of the full prompt. */
export function makePpoPrompts(
  texts: readonly string[],
  policyTok: PreTrainedTokenizer,
  maxPromptTokens: number,
  rmTok?: PreTrainedTokenizer,
  rmMaxPrompt = 128,
): PpoPrompt[] {
  return texts.map((text) => ({
    text,
    ids: Int32Array.from(encodeText(policyTok, text, maxPromptTokens)),
    rmIds: rmTok ? Int32Array.from(encodeText(rmTok, text, rmMaxPrompt)) : undefined,
  }));
}

/** EncodedItems of (prompt, response) id pairs for a bag RM (responses cut at [EOS] and the RM's max length). */
export function encodeForRm(rm: BagRMParams, outRm: Int32Array, prompts: readonly PpoPrompt[], responses: readonly (readonly number[])[]): EncodedItems {
  const n = prompts.length;
  const promptOffsets = new Int32Array(n + 1);
  const responseOffsets = new Int32Array(n + 1);
  const pIds: number[] = [];
  const rIds: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = prompts[i].rmIds;
    if (!p) throw new Error('bag RM reward: prompts need rmIds (makePpoPrompts with the RM tokenizer)');
    for (let t = 0; t < p.length && t < rm.config.maxPromptTokens; t++) pIds.push(p[t]);
    promptOffsets[i + 1] = pIds.length;
    let kept = 0;
    for (const o of responses[i]) {
      if (o === EOS_OUT) break;
      if (kept++ >= rm.config.maxResponseTokens) break;
      rIds.push(outRm[o]);
    }
    responseOffsets[i + 1] = rIds.length;
  }
  return { count: n, promptOffsets, promptIds: Int32Array.from(pIds), responseOffsets, responseIds: Int32Array.from(rIds) };
}

/** A RewardFn scoring with a bag RM from ids. */
export function bagRmReward(rm: BagRMParams, outRm: Int32Array): RewardFn {
  return (prompts, responses) => scoreItems(rm, encodeForRm(rm, outRm, prompts, responses));
}

/** Scores of (prompt, response) texts under several bag RMs sharing one tokenizer (the bundled one's). */
export function scoreTexts(
  rms: readonly BagRMParams[],
  tokenizer: PreTrainedTokenizer,
  items: readonly { prompt: string; response: string }[],
): Float32Array[] {
  if (rms.length === 0) return [];
  const enc = encodeItems(tokenizer, items, rms[0].config);
  return rms.map((p) => scoreItems(p, enc));
}
