// The `hitl` interface 2.x, declared here as the package `bp add hitl` would generate under
// bp_modules/hitl. `bp add` fetches interfaces from the Botpress hub API; this copy keeps the
// type-check (scripts/check-integration-definition) on the npm registry alone. What it declares
// follows shared/specs/botpress/INTEGRATION-PROTOCOL.md: the actions createUser, startHitl and
// stopHitl, the events hitlAssigned and hitlStopped, and channel `hitl`.
import { messages, z, type InterfacePackage } from '@botpress/sdk'

const withUserId = <S extends z.AnyZodObject>(schema: S) =>
  schema.extend({
    userId: z.string().optional().describe('Allows sending a message pretending to be a certain user'),
  })

const messageSource = z.union([
  z.object({ type: z.literal('user'), userId: z.string() }),
  z.object({ type: z.literal('bot') }),
])

// A history entry may be any message the bot's conversation held before the handoff: the
// HITL plugin passes them as they are (`type`, `payload`), so every default message type is
// declared, as in botpress/botpress's interfaces/hitl, plus the older `markdown` (still in
// stored conversations). Botpress checks an action's input against this schema before the
// bridge sees it: a type left out here would refuse the whole startHitl.
type Tuple<T> = [T, T, ...T[]]
const historyMessages = { ...messages.defaults, markdown: messages.markdown }
const historyEntry = z.union(
  Object.entries(historyMessages).map(([type, message]) =>
    z.object({ source: messageSource, type: z.literal(type), payload: message.schema }),
  ) as unknown as Tuple<z.AnyZodObject>,
)

export default {
  type: 'interface',
  name: 'hitl',
  version: '2.0.0',
  definition: {
    name: 'hitl',
    version: '2.0.0',
    entities: {},
    events: {
      hitlAssigned: {
        schema: z.object({
          conversationId: z.string(),
          userId: z.string().describe('The Botpress user standing for the HubSpot agent'),
        }),
      },
      hitlStopped: {
        schema: z.object({ conversationId: z.string() }),
      },
    },
    actions: {
      createUser: {
        input: {
          schema: z.object({
            name: z.string().optional(),
            pictureUrl: z.string().optional(),
            email: z.string().optional().describe('An email address or a phone number'),
          }),
        },
        output: { schema: z.object({ userId: z.string() }) },
      },
      startHitl: {
        input: {
          schema: z.object({
            userId: z.string(),
            title: z.string().optional(),
            description: z.string().optional(),
            hitlSession: z.record(z.any()).optional(),
            messageHistory: z.array(historyEntry).optional(),
          }),
        },
        output: { schema: z.object({ conversationId: z.string() }) },
      },
      stopHitl: {
        input: { schema: z.object({ conversationId: z.string() }) },
        output: { schema: z.object({}) },
      },
    },
    channels: {
      hitl: {
        messages: {
          text: { schema: withUserId(messages.defaults.text.schema) },
          image: { schema: withUserId(messages.defaults.image.schema) },
          audio: { schema: withUserId(messages.defaults.audio.schema) },
          video: { schema: withUserId(messages.defaults.video.schema) },
          file: { schema: withUserId(messages.defaults.file.schema) },
          bloc: { schema: withUserId(messages.defaults.bloc.schema) },
        },
      },
    },
  },
} satisfies InterfacePackage
