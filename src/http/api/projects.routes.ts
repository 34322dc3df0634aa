import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '../../domain/schema-type.js';
import { ValidationError } from '../../domain/errors.js';
import { requireActor } from '../plugins/auth.js';
import { deliverInvitation } from './invitations.routes.js';
import type { RouteOptions } from './session.routes.js';
import { ReleaseGrant } from '../../domain/contract.js';
import { bearer, Email, errors, Member, Project, requireStringValues, Role, ScopeParam, SecretName, Slug, Value, ValueBase64 } from './schemas.js';

const SlugParams = Type.Object({ slug: Slug });

/** The grant must arrive as a JSON boolean: the validator would coerce "false" or 0 (and a grant is no place for guessing). */
async function requireBooleanRelease(req: { body: unknown }): Promise<void> {
  requireBoolean(req.body, 'release');
}

function requireBoolean(body: unknown, field: string): void {
  const b = body as Record<string, unknown> | undefined;
  if (b && typeof b === 'object' && Object.hasOwn(b, field) && typeof b[field] !== 'boolean')
    throw new ValidationError(field, `${field} must be true or false`);
}

/** Projects and their members. */
export const projectRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { services, publicUrl }) => {
  const auth = requireActor(publicUrl);

  app.post(
    '/projects',
    {
      preHandler: auth,
      preValidation: async (req) => {
        const secrets = (req.body as { secrets?: unknown } | undefined)?.secrets;
        if (Array.isArray(secrets)) {
          secrets.forEach((s, i) => {
            requireStringValues(s, `secrets[${i}].`);
          });
        }
      },
      schema: {
        tags: ['projects'],
        summary: 'Create a project, optionally with its first secrets (all or nothing)',
        security: bearer,
        body: Type.Object({
          slug: Slug,
          name: Type.String({ minLength: 1, maxLength: 100 }),
          flyApp: Type.Optional(Type.String({ maxLength: 63 })),
          flyPreviewPattern: Type.Optional(Type.String({ maxLength: 80 })),
          secrets: Type.Optional(
            Type.Array(Type.Object({ name: SecretName, scope: ScopeParam, value: Type.Optional(Value), valueBase64: Type.Optional(ValueBase64) }), {
              maxItems: 500,
            }),
          ),
        }),
        response: { 201: Type.Object({ project: Project, secrets: Type.Integer() }), ...errors(400, 401, 403, 409, 413) },
      },
    },
    async (req, reply) => reply.status(201).send(await services.projects.create(req.actor!, req.body)),
  );

  app.get(
    '/projects',
    {
      preHandler: auth,
      schema: {
        tags: ['projects'],
        summary: 'Projects you are a member of',
        security: bearer,
        response: { 200: Type.Object({ projects: Type.Array(Project) }), ...errors(401, 403) },
      },
    },
    async (req) => ({ projects: await services.projects.list(req.actor!) }),
  );

  app.get(
    '/projects/:slug',
    {
      preHandler: auth,
      schema: {
        tags: ['projects'],
        summary: 'Show a project',
        security: bearer,
        params: SlugParams,
        response: { 200: Type.Object({ project: Project }), ...errors(401, 403, 404) },
      },
    },
    async (req) => ({ project: await services.projects.show(req.actor!, req.params.slug) }),
  );

  app.patch(
    '/projects/:slug',
    {
      preHandler: auth,
      preValidation: async (req) => requireBoolean(req.body, 'previewBuildSecrets'),
      schema: {
        tags: ['projects'],
        summary: 'Change project settings (admin), among them whether preview deployments get build secrets',
        security: bearer,
        params: SlugParams,
        body: Type.Object({
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          flyApp: Type.Optional(Type.String({ maxLength: 63 })),
          flyPreviewPattern: Type.Optional(Type.String({ maxLength: 80 })),
          previewBuildSecrets: Type.Optional(Type.Boolean({ description: 'build secrets for preview deployments: true (default) or false' })),
        }),
        response: { 200: Type.Object({ project: Project }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => ({ project: await services.projects.update(req.actor!, req.params.slug, req.body) }),
  );

  app.delete(
    '/projects/:slug',
    {
      preHandler: auth,
      schema: {
        tags: ['projects'],
        summary: 'Delete a project and all its secrets (admin); `confirm` must repeat the slug',
        security: bearer,
        params: SlugParams,
        querystring: Type.Object({ confirm: Type.String({ maxLength: 63 }) }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await services.projects.remove(req.actor!, req.params.slug, req.query.confirm);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/projects/:slug/members',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'List members',
        security: bearer,
        params: SlugParams,
        response: { 200: Type.Object({ members: Type.Array(Member) }), ...errors(401, 403, 404) },
      },
    },
    async (req) => ({ members: await services.projects.members(req.actor!, req.params.slug) }),
  );

  app.post(
    '/projects/:slug/members',
    {
      preHandler: auth,
      preValidation: requireBooleanRelease,
      schema: {
        tags: ['members'],
        summary:
          'Add a member or change their role and release grant (admin; `release` omitted keeps the grant, none for a new member). An email without an account gets an invitation (e-mailed when SMTP is configured); the answer is the same either way.',
        security: bearer,
        params: SlugParams,
        body: Type.Object({ email: Email, role: Role, release: Type.Optional(ReleaseGrant) }),
        response: {
          200: Type.Object({ member: Member, change: Type.String() }),
          201: Type.Object({ member: Member, change: Type.String() }),
          ...errors(400, 401, 403, 404, 409),
        },
      },
    },
    async (req, reply) => {
      const r = await services.projects.setMember(req.actor!, req.params.slug, req.body.email, req.body.role, req.body.release);
      // An email without an account got an invitation: e-mailed when SMTP is set, listed as pending.
      // The answer is built the same way in both cases, so it does not tell whether an account exists.
      if (r.invitation) await deliverInvitation(services, req, publicUrl, req.params.slug, r.invitation);
      return reply.status(r.change === 'added' ? 201 : 200).send({ member: r.member, change: r.change });
    },
  );

  app.patch(
    '/projects/:slug/members/:email',
    {
      preHandler: auth,
      preValidation: requireBooleanRelease,
      schema: {
        tags: ['members'],
        summary: "Change a member's role and/or release grant (admin)",
        security: bearer,
        params: Type.Object({ slug: Slug, email: Email }),
        body: Type.Object({ role: Type.Optional(Role), release: Type.Optional(ReleaseGrant) }),
        response: { 200: Type.Object({ member: Member }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => ({ member: await services.projects.updateMember(req.actor!, req.params.slug, req.params.email, req.body) }),
  );

  app.delete(
    '/projects/:slug/members/:email',
    {
      preHandler: auth,
      schema: {
        tags: ['members'],
        summary: 'Remove a member (admin)',
        security: bearer,
        params: Type.Object({ slug: Slug, email: Email }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      await services.projects.removeMember(req.actor!, req.params.slug, req.params.email);
      return reply.status(204).send(null);
    },
  );
};
