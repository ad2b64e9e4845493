// The Botpress side of hitl-bridge: a declaration only. Botpress Cloud calls the bridge at the
// `url` given to `bp deploy --url <PUBLIC_BASE_URL>/botpress`; every operation (register,
// actions, messages) is served by the bridge, so there is no implementation here.
import { IntegrationDefinition, z } from '@botpress/sdk'
import hitl from './interfaces/hitl'

// Exactly the tags the bridge reads and writes (shared/src/relay: CONTACT_TAG, VISITOR_TAG, ACTOR_TAG,
// THREAD_TAG, MESSAGE_TAG). Botpress refuses tags an integration did not declare.
export const TAGS = {
  user: { contact: 'hubspotContactId', visitor: 'hubspotVisitorId', actor: 'hubspotActorId' },
  conversation: { thread: 'hubspotThreadId' },
  message: { message: 'hubspotMessageId' },
} as const

export default new IntegrationDefinition({
  name: 'hitl-bridge',
  title: 'HubSpot Help Desk (self-hosted hitl-bridge)',
  version: '1.1.0',
  description: 'Hands conversations to human agents in HubSpot Help Desk through your own hitl-bridge.',
  readme: 'README.md',
  configuration: {
    schema: z.object({
      sharedSecret: z
        .string()
        .min(1)
        .describe('The same value as the bridge’s BOTPRESS_SHARED_SECRET (botpressSharedSecret on AWS)'),
    }),
  },
  user: {
    tags: {
      [TAGS.user.contact]: { title: 'HubSpot contact id', description: 'The HubSpot CRM contact of an end user' },
      [TAGS.user.visitor]: {
        title: 'HubSpot visitor id',
        description: 'How the help desk knows an end user who gave no email or phone',
      },
      [TAGS.user.actor]: { title: 'HubSpot actor id', description: 'The HubSpot agent a Botpress user stands for' },
    },
  },
}).extend(hitl, () => ({
  entities: {},
  channels: {
    hitl: {
      title: 'HubSpot Help Desk',
      description: 'The handoff conversation, mirrored by one HubSpot Help Desk thread',
      conversation: {
        tags: {
          [TAGS.conversation.thread]: { title: 'HubSpot thread id', description: 'The Help Desk thread of the handoff' },
        },
      },
      message: {
        tags: {
          [TAGS.message.message]: { title: 'HubSpot message id', description: 'The agent reply a message relays' },
        },
      },
    },
  },
}))
