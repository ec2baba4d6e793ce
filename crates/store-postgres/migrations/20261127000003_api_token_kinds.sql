-- API tokens act for a person, a consuming system or the operator: the kind is stored, and the
-- columns that name the holder must fit it.
ALTER TABLE api_tokens ADD COLUMN kind text NOT NULL DEFAULT 'person';

UPDATE api_tokens
SET kind = 'system', system_name = coalesce(system_name, label)
WHERE person_id IS NULL;
UPDATE api_tokens SET system_name = NULL WHERE person_id IS NOT NULL;

ALTER TABLE api_tokens ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE api_tokens
    ADD CONSTRAINT ck_api_tokens_kind CHECK (kind IN ('person', 'system', 'operator')),
    ADD CONSTRAINT ck_api_tokens_holder CHECK (
        ((kind = 'person') = (person_id IS NOT NULL))
        AND ((kind = 'person') = (system_name IS NULL))
    );
