terraform {
  backend "s3" {
    bucket  = "state"
    key     = "app/terraform.tfstate"
    region  = "us-west-2"
    profile = "base"
    assume_role = {
      role_arn = "arn:aws:iam::123456789012:role/hc-master"
    }
  }
}

provider "aws" {
  region  = "us-west-2"
  profile = "base"

  assume_role {
    role_arn     = "arn:aws:iam::123456789012:role/hc-master"
    session_name = "terraform"
  }
}

provider "aws" {
  alias   = "readonly"
  region  = "us-west-2"
  profile = "base"

  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/no-mfa-needed"
  }
}
