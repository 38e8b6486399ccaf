import type { MaybeRefOrGetter, Ref, ShallowRef } from "vue";
import type { LoadOptions } from "./index";
import type { Activity, CompletionData, StartParams } from "./timeback";

export interface UseActivityOptions {
  /** How to load the embed when the page has no timeback.js tag. */
  load?: LoadOptions;
}

export interface ActivityRefs {
  activity: ShallowRef<Activity | null>;
  isPaused: Ref<boolean>;
  isEnded: Ref<boolean>;
  error: ShallowRef<Error | null>;
  /** Ends the activity, with the completion when `data` is given. */
  end(data?: CompletionData): Promise<void>;
}

/** Runs one activity while the component is mounted. */
export function useActivity(
  params: MaybeRefOrGetter<StartParams>,
  options?: UseActivityOptions,
): ActivityRefs;
